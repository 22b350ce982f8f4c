#!/usr/bin/env bash
# Builds Espruino's own interpreter for one of sealmq's targets from a pinned Espruino source, with the
# recipe's patches, and caches the result by a hash of the source and the recipe. The last line on stdout is
# the path of the built binary; everything else goes to stderr. scripts/espruino/README.md says more.
#
#   scripts/espruino/build.sh linux          # build (or take from the cache) and print the binary's path
#   scripts/espruino/build.sh --path linux   # print the cached binary's path, exit 3 if not built yet
#
# Source, first found: $ESPRUINO_SRC (a folder or a .tar.gz), ../shared/espruino/Espruino-2v29-src.tar.gz
# beside the repository, else a clone of the pinned tag from github.com/espruino/Espruino.
set -euo pipefail

PINNED_TAG=RELEASE_2V29
PINNED_COMMIT=6106910b8a3dc1253e3f8388a68d068f4c71fadf
PINNED_SHA256=a8910d6fd99dd7fa6061f4e255d19dffca2444a7b63db31c94f2ae8b998575c1
PINNED_ARCHIVE=Espruino-2v29-src.tar.gz
UPSTREAM=https://github.com/espruino/Espruino.git

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
cache_root="${SEALMQ_ESPRUINO_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/sealmq/espruino}"

t0=$(date +%s.%N)
say() { echo "espruino: $*" >&2; }
elapsed() { awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f s", b - a }'; }
die() { echo "espruino: error: $1" >&2; [ -n "${2:-}" ] && echo "espruino: $2" >&2; exit "${3:-1}"; }

usage() {
  sed -n '2,10p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
  echo >&2
  echo "targets: $(ls "$here/targets" | tr '\n' ' ')" >&2
}

path_only=0
target=""
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --path) path_only=1 ;;
    -*) usage; die "unknown option $1" "" 2 ;;
    *) [ -z "$target" ] || die "one target only (got $target and $1)" "" 2; target="$1" ;;
  esac
  shift
done
[ -n "$target" ] || { usage; die "which target?" "" 2; }
tdir="$here/targets/$target"
[ -f "$tdir/make.env" ] || die "no such target: $target" "targets: $(ls "$here/targets" | tr '\n' ' ')" 2

# make.env: BOARD (Espruino board name), OUTPUT (path of the result in the tree), optional MAKE_VARS and
# REQUIRES (commands the build needs beyond gcc, make, python3).
BOARD="" OUTPUT="" MAKE_VARS="" REQUIRES=""
# shellcheck source=/dev/null
. "$tdir/make.env"
[ -n "$BOARD" ] && [ -n "$OUTPUT" ] || die "$tdir/make.env must set BOARD and OUTPUT"

sha() { sha256sum | cut -c1-64; }

# --- where the source comes from, and what identifies it ---------------------------------------------
src_kind="" src_path="" src_id=""
if [ -n "${ESPRUINO_SRC:-}" ]; then
  src_path="$ESPRUINO_SRC"
  if [ -d "$src_path" ]; then
    src_kind=dir
    # A folder is identified by its files' names, sizes and times (a build's own outputs left out).
    src_id="dir:$(cd "$src_path" && find . -type f ! -path './.git/*' ! -path './bin/*' ! -path './gen/*' \
      ! -path './obj/*' ! -name '*.o' ! -name '*.d' -printf '%P %s %T@\n' | LC_ALL=C sort | sha)"
  elif [ -f "$src_path" ]; then
    src_kind=archive
  else
    die "ESPRUINO_SRC=$src_path is neither a folder nor a file" "point it at an Espruino source folder or a .tar.gz of one" 2
  fi
elif [ -f "$repo/../shared/espruino/$PINNED_ARCHIVE" ]; then
  src_kind=archive
  src_path="$(cd "$repo/../shared/espruino" && pwd)/$PINNED_ARCHIVE"
else
  src_kind=git
fi

if [ "$src_kind" = archive ]; then
  sum="$(sha < "$src_path")"
  want="${ESPRUINO_SRC_SHA256:-$PINNED_SHA256}"
  [ "$sum" = "$want" ] || die "$src_path: sha256 $sum, expected $want" \
    "this is not the pinned Espruino source ($PINNED_TAG); for another archive you trust, set ESPRUINO_SRC_SHA256 to its sha256" 1
  src_id="archive:$sum"
elif [ "$src_kind" = git ]; then
  src_id="git:$PINNED_COMMIT"
fi

# The recipe: this script and the target's folder (make.env, patches, board files).
recipe_id="$( { cat "${BASH_SOURCE[0]}"; (cd "$tdir" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum); } | sha)"
hash="$(printf '%s\n%s\n%s\n' "$target" "$src_id" "$recipe_id" | sha | cut -c1-16)"
out_dir="$cache_root/$target-$hash"
out="$out_dir/$(basename "$OUTPUT")"

if [ -f "$out" ]; then
  [ $path_only = 1 ] || say "$target: from the cache in $(elapsed) ($out_dir)"
  echo "$out"
  exit 0
fi
[ $path_only = 0 ] || die "$target: not built yet (no $out)" "build it with: scripts/espruino/build.sh $target   (or npm run espruino -- $target)" 3

# --- build ------------------------------------------------------------------------------------------
for c in make python3 gcc git patch $REQUIRES; do
  command -v "$c" >/dev/null 2>&1 || die "the $target build needs '$c', which is not installed" \
    "Debian/Ubuntu: sudo apt-get install make python3 gcc git patch${REQUIRES:+ (and the package providing $REQUIRES)}" 1
done
mkdir -p "$cache_root"
exec 9>"$cache_root/$target-$hash.lock"
flock 9
if [ -f "$out" ]; then echo "$out"; exit 0; fi # another run built it while this one waited

work="$(mktemp -d "$cache_root/work-$target-XXXXXX")"
trap 'rm -rf "$work"' EXIT
tree="$work/Espruino"
case "$src_kind" in
  archive)
    say "$target: extracting $src_path"
    mkdir -p "$tree"
    tar -xzf "$src_path" -C "$tree" --strip-components=1 ;;
  dir)
    say "$target: copying $src_path"
    mkdir -p "$tree"
    (cd "$src_path" && tar -cf - --exclude=./bin --exclude=./gen --exclude=./obj .) | tar -xf - -C "$tree" ;;
  git)
    say "$target: cloning $UPSTREAM at $PINNED_TAG (set ESPRUINO_SRC to build offline)"
    git clone -q --depth 1 --branch "$PINNED_TAG" "$UPSTREAM" "$tree" || die "cannot clone $UPSTREAM" \
      "without internet, set ESPRUINO_SRC to an Espruino $PINNED_TAG source folder or archive" 1
    [ "$(git -C "$tree" rev-parse HEAD)" = "$PINNED_COMMIT" ] || die "$PINNED_TAG is not commit $PINNED_COMMIT upstream" \
      "the tag moved: check github.com/espruino/Espruino before trusting it" 1 ;;
esac

# Espruino's Makefile and scripts/common.py ask git for the version: an archive has no .git, so the
# extracted tree becomes a repository of one commit (with the upstream commit in its message).
if [ ! -d "$tree/.git" ]; then
  git -C "$tree" init -q
  git -C "$tree" -c core.autocrlf=false -c core.safecrlf=false add -A >/dev/null 2>&1
  GIT_AUTHOR_DATE=2000-01-01T00:00:00Z GIT_COMMITTER_DATE=2000-01-01T00:00:00Z \
    git -C "$tree" -c user.name=sealmq -c user.email=sealmq@localhost -c commit.gpgsign=false \
    commit -q -m "Espruino $PINNED_TAG ($src_id)" >/dev/null
fi

for p in "$tdir"/patches/*.patch; do
  [ -f "$p" ] || continue
  say "$target: applying $(basename "$p")"
  patch -d "$tree" -p1 --forward --quiet < "$p" >&2 || die "patch $(basename "$p") does not apply to this source" \
    "the recipe's patches are made for Espruino $PINNED_TAG" 1
done
for b in "$tdir"/boards/*.py; do
  [ -f "$b" ] && cp "$b" "$tree/boards/"
done

jobs="${SEALMQ_ESPRUINO_JOBS:-$(nproc 2>/dev/null || echo 2)}"
say "$target: building BOARD=$BOARD with $jobs jobs (a few minutes; log: $out_dir.log)"
# shellcheck disable=SC2086
if ! (cd "$tree" && env -u MAKEFLAGS BOARD="$BOARD" $MAKE_VARS make -j"$jobs") > "$out_dir.log" 2>&1; then
  tail -n 30 "$out_dir.log" >&2
  die "$target: make failed" "the whole log is $out_dir.log" 1
fi
[ -f "$tree/$OUTPUT" ] || die "$target: make finished but $OUTPUT is missing" "see $out_dir.log" 1

tmp_out="$(mktemp -d "$cache_root/.out-$target-XXXXXX")"
cp "$tree/$OUTPUT" "$tmp_out/"
for extra in ${EXTRA_OUTPUTS:-}; do cp "$tree/$extra" "$tmp_out/"; done
mv "$out_dir.log" "$tmp_out/build.log"
printf '{"target":"%s","board":"%s","source":"%s","recipe":"%s","builtAt":"%s"}\n' \
  "$target" "$BOARD" "$src_id" "$recipe_id" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" > "$tmp_out/recipe.json"
rm -rf "$out_dir"
mv "$tmp_out" "$out_dir"
say "$target: built in $(elapsed)"
echo "$out"
