/*
 * sealmq_totp_auth: device logins for a real Mosquitto 2.x, checked exactly as sealmq's embedded broker
 * checks them (host/broker/auth.ts; docs/BROKER.md, "Mosquitto"). The one part of sealmq that is not
 * TypeScript: Mosquitto loads plugins as shared objects through its C API (plugin API v5), and its
 * password_file can only compare a static secret, never a one-time password.
 *
 * A device logs in with user name = its device id and password = its current TOTP (RFC 6238: HMAC-SHA-1
 * over its 20-byte OTP seed, 30 s steps, 8 digits; steps t-1, t, t+1 accepted, compared in constant time
 * without stopping early). Each step is accepted once per device and never one older than the last
 * accepted (RFC 6238 §5.2); the last accepted step is written to the state file, atomically, before the
 * login is granted, so a restarted broker does not reopen it.
 *
 * Options (mosquitto.conf, written by `sealmq broker --emit-mosquitto`):
 *   plugin_opt_devices FILE   one principal a line, re-read whenever it changes (no restart needed):
 *                               <device-id> active <epoch> <40 hex: OTP seed>
 *                               <device-id> revoked <epoch> -
 *                               <name> operator - -       (not a device: Mosquitto's password_file decides)
 *                             it must not be readable by group or others (it holds OTP seeds).
 *   plugin_opt_state FILE     last accepted step per device: "<device-id> <epoch> <step>" lines.
 *
 * The devices file is re-read when its inode, size, mode or modification time changed since it was read,
 * and at every login while that time is within a second of the read (a rewrite within one clock tick keeps
 * the same time; git calls such files "racily clean").
 *
 * Failed device logins are counted per (device id, client address): after 10 within a minute, that address
 * is refused unchecked for the rest of the minute ("rate-limited", logged once), as on the embedded broker.
 *
 * Decisions: a user name listed as a device is decided here (success or refusal, never deferred); one
 * listed as an operator, or one that is not shaped like a device id, is deferred to the password_file;
 * any other name shaped like a device id is refused (deny by default). If the devices file cannot be read
 * or is malformed, every name shaped like a device id is refused until it is fixed. Nothing secret is ever
 * logged: not a password, not a seed, not a code.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>

#if defined(__has_include)
#if __has_include(<mosquitto.h>)
#include <mosquitto.h>
#define SEALMQ_HAVE_MOSQUITTO_H 1
#endif
#endif
#ifndef SEALMQ_HAVE_MOSQUITTO_H
/* mosquitto.h comes with libmosquitto-dev, which a plugin does not otherwise need: the values below are
 * Mosquitto 2.x's (mosquitto.h, enum mosq_err_t and the MOSQ_LOG_ flags). */
#define MOSQ_ERR_SUCCESS 0
#define MOSQ_ERR_NOMEM 1
#define MOSQ_ERR_INVAL 3
#define MOSQ_ERR_AUTH 11
#define MOSQ_ERR_UNKNOWN 13
#define MOSQ_ERR_PLUGIN_DEFER 17
#define MOSQ_LOG_INFO (1 << 0)
#define MOSQ_LOG_NOTICE (1 << 1)
#define MOSQ_LOG_WARNING (1 << 2)
#define MOSQ_LOG_ERR (1 << 3)
#endif

#define ID_MAX 32          /* core/ids.ts DEVICE_ID_MAX */
#define SEED_LEN 20        /* registry OTP_SEED_LEN */
#define STEP_SECONDS 30    /* core/otp.ts DEVICE_TOTP_STEP */
#define DIGITS 8           /* core/otp.ts DEVICE_TOTP_DIGITS */
#define SKEW 1             /* steps either side of now */
#define LINE_MAX_LEN 512
/* host/broker/auth.ts: 10 failed device logins per (device id, address) a minute, then that address is
 * refused unchecked for the rest of the minute. Per address: a stranger who knows a device id cannot lock
 * the device itself out by failing on purpose. Bounded table; the oldest entry makes room. */
#define MAX_FAILURES 10
#define FAILURE_WINDOW_S 60
#define FAILURE_SLOTS 4096
#define ADDR_MAX 64

enum kind { K_ACTIVE = 1, K_REVOKED = 2, K_OPERATOR = 3 };

struct principal {
	char name[ID_MAX + 1];
	int kind;
	long epoch;
	unsigned char seed[SEED_LEN];
};

struct used {
	char id[ID_MAX + 1];
	long epoch;
	int64_t step;
};

struct failure {
	char id[ID_MAX + 1];
	char addr[ADDR_MAX];
	time_t since;
	int count;
	bool live;
	bool reported;
};

struct ctx {
	mosquitto_plugin_id_t *pid;
	char *devices_path;
	char *state_path;
	/* The devices file as last read; `broken` when it could not be read or parsed. */
	struct principal *table;
	size_t count;
	bool broken;
	bool have_stat;
	/* Read within a second of its modification time: a rewrite in the same clock tick could look unchanged. */
	bool racy;
	struct stat seen;
	struct used *used;
	size_t used_count;
	struct failure *failures; /* FAILURE_SLOTS entries */
};

/* core/ids.ts isDeviceId: [a-z0-9][a-z0-9-]*, at most 32 characters. */
static bool is_device_id(const char *s)
{
	size_t n = 0;
	if (s == NULL || s[0] == '\0') return false;
	if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= '0' && s[0] <= '9'))) return false;
	for (; s[n] != '\0'; n++) {
		char c = s[n];
		if (n >= ID_MAX) return false;
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
	}
	return true;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9') return c - '0';
	if (c >= 'a' && c <= 'f') return c - 'a' + 10;
	if (c >= 'A' && c <= 'F') return c - 'A' + 10;
	return -1;
}

static bool parse_long(const char *s, long *out)
{
	char *end = NULL;
	long v;
	if (s == NULL || *s == '\0') return false;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < 0) return false;
	*out = v;
	return true;
}

static void free_table(struct principal *t, size_t n)
{
	if (t == NULL) return;
	OPENSSL_cleanse(t, n * sizeof(*t));
	free(t);
}

static int cmp_principal(const void *a, const void *b)
{
	return strcmp(((const struct principal *)a)->name, ((const struct principal *)b)->name);
}

/* Reads and checks the whole devices file; on any problem returns false and leaves *out untouched. */
static bool read_devices(const char *path, struct principal **out, size_t *out_n, const char **why)
{
	FILE *f;
	char line[LINE_MAX_LEN];
	struct principal *t = NULL;
	size_t n = 0, cap = 0, i;
	bool ok = true;
	struct stat st;

	f = fopen(path, "r");
	if (f == NULL) { *why = "cannot be opened"; return false; }
	if (fstat(fileno(f), &st) != 0) { fclose(f); *why = "cannot be read"; return false; }
	if ((st.st_mode & 077) != 0) { fclose(f); *why = "is readable or writable by group or others (it holds OTP seeds): chmod 600"; return false; }
	while (ok && fgets(line, sizeof(line), f) != NULL) {
		char *fields[5];
		int nf = 0;
		char *p, *save = NULL;
		size_t len = strlen(line);
		struct principal pr;

		if (len == sizeof(line) - 1 && line[len - 1] != '\n') { ok = false; *why = "has a line that is too long"; break; }
		if (line[0] == '#' || line[0] == '\n') continue;
		for (p = strtok_r(line, " \t\r\n", &save); p != NULL && nf < 5; p = strtok_r(NULL, " \t\r\n", &save)) fields[nf++] = p;
		if (nf == 0) continue;
		if (nf != 4) { ok = false; *why = "has a line without exactly 4 fields"; break; }
		memset(&pr, 0, sizeof(pr));
		if (strcmp(fields[1], "operator") == 0) {
			/* Operator names follow the registry's rule, wider than device ids; only their length matters here. */
			if (strlen(fields[0]) > ID_MAX || strcmp(fields[2], "-") != 0 || strcmp(fields[3], "-") != 0) { ok = false; *why = "has a malformed operator line"; break; }
			pr.kind = K_OPERATOR;
			pr.epoch = -1;
		} else {
			if (!is_device_id(fields[0]) || !parse_long(fields[2], &pr.epoch) || pr.epoch > 255) { ok = false; *why = "has a malformed device line"; break; }
			if (strcmp(fields[1], "active") == 0) {
				if (strlen(fields[3]) != 2 * SEED_LEN) { ok = false; *why = "has a seed that is not 40 hex digits"; break; }
				for (i = 0; i < SEED_LEN; i++) {
					int hi = hexval(fields[3][2 * i]), lo = hexval(fields[3][2 * i + 1]);
					if (hi < 0 || lo < 0) { ok = false; break; }
					pr.seed[i] = (unsigned char)(hi * 16 + lo);
				}
				if (!ok) { *why = "has a seed that is not 40 hex digits"; break; }
				pr.kind = K_ACTIVE;
			} else if (strcmp(fields[1], "revoked") == 0 && strcmp(fields[3], "-") == 0) {
				pr.kind = K_REVOKED;
			} else { ok = false; *why = "has a line with an unknown status"; break; }
		}
		memcpy(pr.name, fields[0], strlen(fields[0]) + 1);
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 64;
			struct principal *nt = calloc(ncap, sizeof(*nt));
			if (nt == NULL) { ok = false; *why = "is too large (out of memory)"; break; }
			if (t) { memcpy(nt, t, n * sizeof(*t)); free_table(t, cap); }
			t = nt;
			cap = ncap;
		}
		t[n++] = pr;
		OPENSSL_cleanse(&pr, sizeof(pr));
	}
	OPENSSL_cleanse(line, sizeof(line));
	if (ok && ferror(f)) { ok = false; *why = "cannot be read"; }
	fclose(f);
	if (ok && n > 1) {
		qsort(t, n, sizeof(*t), cmp_principal);
		for (i = 1; i < n; i++) if (strcmp(t[i - 1].name, t[i].name) == 0) { ok = false; *why = "lists a name twice"; break; }
	}
	if (!ok) { free_table(t, cap); return false; }
	*out = t;
	*out_n = n;
	return true;
}

/* Re-reads the devices file when it was replaced or changed (inode, size or modification time). */
static void refresh(struct ctx *c)
{
	struct stat st;
	struct principal *t = NULL;
	size_t n = 0;
	const char *why = "cannot be read";

	if (stat(c->devices_path, &st) != 0) {
		if (!c->broken) mosquitto_log_printf(MOSQ_LOG_ERR, "sealmq_totp_auth: %s is gone: refusing every device login", c->devices_path);
		free_table(c->table, c->count);
		c->table = NULL; c->count = 0; c->broken = true; c->have_stat = false;
		return;
	}
	if (c->have_stat && !c->racy && st.st_ino == c->seen.st_ino && st.st_dev == c->seen.st_dev && st.st_size == c->seen.st_size &&
			st.st_mtim.tv_sec == c->seen.st_mtim.tv_sec && st.st_mtim.tv_nsec == c->seen.st_mtim.tv_nsec &&
			st.st_mode == c->seen.st_mode) {
		return;
	}
	c->seen = st;
	c->have_stat = true;
	c->racy = (int64_t)st.st_mtim.tv_sec >= (int64_t)time(NULL) - 1;
	free_table(c->table, c->count);
	c->table = NULL; c->count = 0;
	if (!read_devices(c->devices_path, &t, &n, &why)) {
		c->broken = true;
		mosquitto_log_printf(MOSQ_LOG_ERR, "sealmq_totp_auth: %s %s: refusing every device login until it is fixed", c->devices_path, why);
		return;
	}
	c->table = t; c->count = n; c->broken = false;
	if (!c->racy) mosquitto_log_printf(MOSQ_LOG_NOTICE, "sealmq_totp_auth: read %zu principals from %s", n, c->devices_path);
}

static const struct principal *lookup(const struct ctx *c, const char *name)
{
	struct principal key;
	if (c->table == NULL || strlen(name) > ID_MAX) return NULL;
	memset(&key, 0, sizeof(key));
	memcpy(key.name, name, strlen(name) + 1);
	return bsearch(&key, c->table, c->count, sizeof(*c->table), cmp_principal);
}

static struct used *used_of(struct ctx *c, const char *id)
{
	size_t i;
	for (i = 0; i < c->used_count; i++) if (strcmp(c->used[i].id, id) == 0) return &c->used[i];
	return NULL;
}

/* Loads the state file; a missing one is an empty state (first start), a malformed one an error. */
static bool load_state(struct ctx *c)
{
	FILE *f = fopen(c->state_path, "r");
	char line[LINE_MAX_LEN];
	if (f == NULL) return errno == ENOENT;
	while (fgets(line, sizeof(line), f) != NULL) {
		char id[ID_MAX + 2];
		long epoch;
		int64_t step;
		struct used *u;
		if (line[0] == '#' || line[0] == '\n') continue;
		if (sscanf(line, "%33s %ld %" SCNd64, id, &epoch, &step) != 3 || !is_device_id(id) || epoch < 0 || step < 0) { fclose(f); return false; }
		u = used_of(c, id);
		if (u == NULL) {
			struct used *nu = realloc(c->used, (c->used_count + 1) * sizeof(*nu));
			if (nu == NULL) { fclose(f); return false; }
			c->used = nu;
			u = &c->used[c->used_count++];
			memset(u, 0, sizeof(*u));
			memcpy(u->id, id, strlen(id) + 1);
		}
		u->epoch = epoch;
		u->step = step;
	}
	fclose(f);
	return true;
}

/* Writes the whole state aside, fsyncs it, renames it over the old one and fsyncs the folder. */
static bool save_state(const struct ctx *c)
{
	size_t plen = strlen(c->state_path);
	char *tmp = malloc(plen + 5), *dcopy = NULL;
	FILE *f;
	int fd, dfd;
	size_t i;
	bool ok = true;

	if (tmp == NULL) return false;
	snprintf(tmp, plen + 5, "%s.tmp", c->state_path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0) { free(tmp); return false; }
	f = fdopen(fd, "w");
	if (f == NULL) { close(fd); unlink(tmp); free(tmp); return false; }
	fprintf(f, "# sealmq_totp_auth: last accepted TOTP step per device (device epoch step). Do not edit.\n");
	for (i = 0; i < c->used_count; i++) fprintf(f, "%s %ld %" PRId64 "\n", c->used[i].id, c->used[i].epoch, c->used[i].step);
	if (fflush(f) != 0 || fsync(fileno(f)) != 0) ok = false;
	if (fclose(f) != 0) ok = false;
	if (ok && rename(tmp, c->state_path) != 0) ok = false;
	if (!ok) unlink(tmp);
	free(tmp);
	if (ok) {
		dcopy = strdup(c->state_path);
		if (dcopy != NULL) {
			dfd = open(dirname(dcopy), O_RDONLY | O_DIRECTORY);
			if (dfd >= 0) { if (fsync(dfd) != 0) ok = false; close(dfd); }
			free(dcopy);
		}
	}
	return ok;
}

/* RFC 4226 HOTP with 8 digits over HMAC-SHA-1 (core/otp.ts hotp). */
static bool hotp(const unsigned char *seed, uint64_t counter, char out[DIGITS + 1])
{
	unsigned char msg[8], mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	uint32_t bin;
	int i, off;
	for (i = 0; i < 8; i++) msg[i] = (unsigned char)(counter >> (56 - 8 * i));
	if (HMAC(EVP_sha1(), seed, SEED_LEN, msg, sizeof(msg), mac, &maclen) == NULL || maclen != 20) return false;
	off = mac[19] & 15;
	bin = ((uint32_t)(mac[off] & 0x7f) << 24) | ((uint32_t)mac[off + 1] << 16) | ((uint32_t)mac[off + 2] << 8) | (uint32_t)mac[off + 3];
	snprintf(out, DIGITS + 1, "%08" PRIu32, bin % 100000000u);
	OPENSSL_cleanse(mac, sizeof(mac));
	return true;
}

static int refuse(struct mosquitto *client, const char *user, const char *reason)
{
	const char *addr = mosquitto_client_address(client);
	mosquitto_log_printf(MOSQ_LOG_NOTICE, "sealmq_totp_auth: refused %s from %s: %s", user, addr ? addr : "?", reason);
	return MOSQ_ERR_AUTH;
}

static int device_login(struct ctx *c, struct mosquitto *client, const struct principal *d, const char *password)
{
	char want[DIGITS + 1];
	int64_t now, step, matched = -1;
	size_t i;
	struct used *u;
	const char *cid;

	if (d->kind == K_REVOKED) return refuse(client, d->name, "revoked");
	if (password == NULL || strlen(password) != DIGITS) return refuse(client, d->name, "bad-totp");
	for (i = 0; i < DIGITS; i++) if (password[i] < '0' || password[i] > '9') return refuse(client, d->name, "bad-totp");
	now = (int64_t)time(NULL) / STEP_SECONDS;
	/* Every step in the window is compared, without stopping early; the latest that matched is kept. */
	for (step = now - SKEW; step <= now + SKEW; step++) {
		if (!hotp(d->seed, (uint64_t)step, want)) { OPENSSL_cleanse(want, sizeof(want)); return refuse(client, d->name, "hmac-failed"); }
		if (CRYPTO_memcmp(want, password, DIGITS) == 0) matched = step;
	}
	OPENSSL_cleanse(want, sizeof(want));
	if (matched < 0) return refuse(client, d->name, "bad-totp");
	/* With use_username_as_clientid the client id already is the user name; checked in case it is not. */
	cid = mosquitto_client_id(client);
	if (cid == NULL || strcmp(cid, d->name) != 0) return refuse(client, d->name, "client-id-mismatch");
	u = used_of(c, d->name);
	/* A new epoch means a new seed (a rekey or a replacement board): the old one's steps say nothing about it. */
	if (u != NULL && u->epoch == d->epoch && matched <= u->step) return refuse(client, d->name, "totp-reused");
	{
		struct used before;
		bool added = false;
		if (u == NULL) {
			struct used *nu = realloc(c->used, (c->used_count + 1) * sizeof(*nu));
			if (nu == NULL) return refuse(client, d->name, "out-of-memory");
			c->used = nu;
			u = &c->used[c->used_count++];
			memset(u, 0, sizeof(*u));
			memcpy(u->id, d->name, strlen(d->name) + 1);
			added = true;
		}
		before = *u;
		u->epoch = d->epoch;
		u->step = matched;
		/* Durable before the login is granted: a restart must not reopen this step. */
		if (!save_state(c)) {
			if (added) c->used_count--; else *u = before;
			mosquitto_log_printf(MOSQ_LOG_ERR, "sealmq_totp_auth: cannot write %s: %s", c->state_path, strerror(errno));
			return refuse(client, d->name, "state-not-written");
		}
	}
	return MOSQ_ERR_SUCCESS;
}

/* The live failure entry of (id, addr), or NULL; an entry older than the window is dropped on the way. */
static struct failure *failure_of(struct ctx *c, const char *id, const char *addr, time_t now)
{
	size_t i;
	for (i = 0; i < FAILURE_SLOTS; i++) {
		struct failure *f = &c->failures[i];
		if (!f->live) continue;
		if (now - f->since > FAILURE_WINDOW_S) { f->live = false; continue; }
		if (strcmp(f->id, id) == 0 && strncmp(f->addr, addr, ADDR_MAX - 1) == 0) return f;
	}
	return NULL;
}

static void note_failure(struct ctx *c, const char *id, const char *addr, time_t now)
{
	struct failure *f = failure_of(c, id, addr, now);
	size_t i, pick = 0;
	if (f != NULL) { f->count++; return; }
	for (i = 0; i < FAILURE_SLOTS; i++) {
		if (!c->failures[i].live) { pick = i; break; }
		if (c->failures[i].since < c->failures[pick].since) pick = i;
	}
	f = &c->failures[pick];
	memset(f, 0, sizeof(*f));
	snprintf(f->id, sizeof(f->id), "%s", id);
	snprintf(f->addr, sizeof(f->addr), "%s", addr);
	f->since = now;
	f->count = 1;
	f->live = true;
}

static int on_basic_auth(int event, void *event_data, void *userdata)
{
	struct mosquitto_evt_basic_auth *ed = event_data;
	struct ctx *c = userdata;
	const struct principal *p;
	(void)event;

	if (ed->username == NULL) return MOSQ_ERR_PLUGIN_DEFER;
	refresh(c);
	p = c->broken ? NULL : lookup(c, ed->username);
	if (p != NULL && p->kind == K_OPERATOR) return MOSQ_ERR_PLUGIN_DEFER;
	if (p != NULL) {
		const char *a = mosquitto_client_address(ed->client);
		const char *addr = a ? a : "?";
		time_t now = time(NULL);
		struct failure *f = failure_of(c, p->name, addr, now);
		int rc;
		if (f != NULL && f->count >= MAX_FAILURES) {
			/* Logged once per window and address; later attempts are refused without a line each. */
			if (!f->reported) { f->reported = true; return refuse(ed->client, p->name, "rate-limited"); }
			return MOSQ_ERR_AUTH;
		}
		rc = device_login(c, ed->client, p, ed->password);
		if (rc == MOSQ_ERR_SUCCESS) { if (f != NULL) f->live = false; }
		else note_failure(c, p->name, addr, now);
		return rc;
	}
	/* Deny by default: a name shaped like a device id is decided here even when it is not listed. */
	if (is_device_id(ed->username)) return refuse(ed->client, ed->username, c->broken ? "devices-file-unusable" : "unknown-device");
	return MOSQ_ERR_PLUGIN_DEFER;
}

static void free_ctx(struct ctx *c)
{
	free_table(c->table, c->count); /* wipes the seeds */
	free(c->used);
	free(c->failures);
	free(c->devices_path);
	free(c->state_path);
	free(c);
}

int mosquitto_plugin_version(int supported_version_count, const int *supported_versions)
{
	int i;
	for (i = 0; i < supported_version_count; i++) if (supported_versions[i] == 5) return 5;
	return -1;
}

int mosquitto_plugin_init(mosquitto_plugin_id_t *identifier, void **userdata, struct mosquitto_opt *options, int option_count)
{
	struct ctx *c;
	int i;

	c = calloc(1, sizeof(*c));
	if (c == NULL) return MOSQ_ERR_NOMEM;
	c->failures = calloc(FAILURE_SLOTS, sizeof(*c->failures));
	if (c->failures == NULL) { free(c); return MOSQ_ERR_NOMEM; }
	c->pid = identifier;
	for (i = 0; i < option_count; i++) {
		if (strcmp(options[i].key, "devices") == 0) { free(c->devices_path); c->devices_path = strdup(options[i].value); }
		else if (strcmp(options[i].key, "state") == 0) { free(c->state_path); c->state_path = strdup(options[i].value); }
	}
	if (c->devices_path == NULL || c->state_path == NULL) {
		mosquitto_log_printf(MOSQ_LOG_ERR, "sealmq_totp_auth: plugin_opt_devices and plugin_opt_state are both required");
		goto fail;
	}
	if (!load_state(c)) {
		mosquitto_log_printf(MOSQ_LOG_ERR, "sealmq_totp_auth: %s cannot be read or is malformed: refusing to start (used steps would be accepted again)", c->state_path);
		goto fail;
	}
	refresh(c);
	if (c->broken) goto fail;
	if (mosquitto_callback_register(c->pid, MOSQ_EVT_BASIC_AUTH, on_basic_auth, NULL, c) != MOSQ_ERR_SUCCESS) {
		mosquitto_log_printf(MOSQ_LOG_ERR, "sealmq_totp_auth: cannot register for basic auth");
		goto fail;
	}
	*userdata = c;
	return MOSQ_ERR_SUCCESS;
fail:
	free_ctx(c);
	return MOSQ_ERR_UNKNOWN;
}

int mosquitto_plugin_cleanup(void *userdata, struct mosquitto_opt *options, int option_count)
{
	struct ctx *c = userdata;
	(void)options;
	(void)option_count;
	if (c == NULL) return MOSQ_ERR_SUCCESS;
	mosquitto_callback_unregister(c->pid, MOSQ_EVT_BASIC_AUTH, on_basic_auth, NULL);
	free_ctx(c);
	return MOSQ_ERR_SUCCESS;
}
