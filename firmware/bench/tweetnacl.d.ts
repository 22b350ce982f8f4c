// tweetnacl's main file named by path (firmware/bench/nacl.ts) has the package's own types.
declare module 'tweetnacl/nacl-fast.js' {
  import nacl from 'tweetnacl';
  export default nacl;
}
