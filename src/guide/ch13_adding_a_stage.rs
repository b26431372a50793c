//! Chapter 13: adding a stage. This chapter will show, step by step, how a
//! new connection stage (something a connection passes through before or
//! around its echo, as the PROXY header and the TLS handshake do) or a new
//! kind of listener is added to the reactor: the slab entry it becomes,
//! how the loop's dispatch reaches it without touching the plain
//! connection's hot path, its deadline and its counted close reasons, and
//! the tests that hold the plain connection's slab element at 16 bytes.
