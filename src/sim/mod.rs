//! The EDAS simulator (DESIGN 7): a real HTTP server on loopback that checks signatures with
//! the same rules as the service. Depends only on `edas`'s wire types and signer, so it
//! cannot cheat.
