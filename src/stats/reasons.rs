//! The reasons the server counts by: why a connection was closed before
//! its echo began (a PROXY header, a TLS handshake) or before it was
//! answered (the metrics endpoint). Each is declared once, with its label
//! in `/metrics`, its words on the stats line and its sentence for the log
//! (`reasons!`), and [`Stats`](super::Stats) keeps a count per variant.
//!
//! They live beside the counters rather than in the modules that decide
//! them, so that what the loop and its handlers share
//! ([`CloseReason`](crate::serve::CloseReason)) and the counters depend on
//! no handler: each handler module uses its reason from here.

crate::stats::reasons! {
    /// Why a connection was closed before its header was complete: each
    /// with its label in `/metrics`, its words on the stats line and its
    /// sentence for the log.
    #[non_exhaustive]
    pub enum HeaderFailure {
        /// The first bytes are not the start of a v1 or v2 header.
        NotProxy = ("not_proxy", "not proxy", "the first bytes are not a PROXY protocol header"),
        /// It starts like a header but is malformed.
        Invalid = ("invalid", "invalid", "malformed PROXY protocol header"),
        /// A v1 line over 107 bytes, or a v2 header over 2,048 bytes.
        TooLong = ("too_long", "too long", "PROXY protocol header too long"),
        /// No complete header within the header timeout.
        Timeout = ("timeout", "timeout", "no PROXY protocol header within the header timeout"),
        /// The client closed (or reset) before the header was complete.
        Closed = ("closed", "closed", "the client closed before its PROXY protocol header ended"),
    }
}

crate::stats::reasons! {
    /// Why a connection was closed before its TLS handshake completed: each
    /// with its label in `/metrics`, its words on the stats line and its
    /// sentence for the log.
    #[non_exhaustive]
    pub enum HandshakeFailure {
        /// The first bytes are not a TLS record: plaintext to the TLS port.
        NotTls = ("not_tls", "not tls", "the first bytes are not TLS (plaintext to the TLS port?)"),
        /// TLS records, but a malformed or unexpected handshake message.
        Invalid = ("invalid", "invalid", "malformed or unexpected TLS handshake message"),
        /// A well-formed ClientHello with nothing in common with the server:
        /// no TLS 1.2 or 1.3, no shared cipher suite, group or signature
        /// scheme.
        Incompatible = (
            "incompatible",
            "incompatible",
            "the client offers no TLS version, cipher suite or group the server supports"
        ),
        /// The client aborted with an alert (for instance, it does not trust
        /// the certificate).
        Alert = ("alert", "alert", "the client aborted the TLS handshake with an alert"),
        /// No completed handshake within `--tls-handshake-timeout`.
        Timeout = ("timeout", "timeout", "no TLS handshake within the handshake timeout"),
        /// The client closed or reset the connection mid-handshake.
        Closed = ("closed", "closed", "the client closed during the TLS handshake"),
        /// The client offers ALPN protocols, none of them one the server
        /// offers (`--tls-alpn`); refused as RFC 7301 says.
        NoCommonProtocol = (
            "no_common_alpn",
            "no common alpn",
            "the client offers no ALPN protocol the server offers"
        ),
        /// Client certificates are required (`--tls-client-ca`) and the
        /// client presented none.
        NoClientCertificate = (
            "no_client_cert",
            "no client cert",
            "the client presented no certificate, and one is required"
        ),
        /// The client's certificate does not verify against the client CAs:
        /// another CA's, expired, or not for client authentication.
        BadClientCertificate = (
            "bad_client_cert",
            "bad client cert",
            "the client's certificate does not verify against the client CAs"
        ),
    }
}

crate::stats::reasons! {
    /// Why a connection to the metrics endpoint was cut before it was
    /// answered: each with its label in `/metrics`, its words and its
    /// sentence for the log.
    #[non_exhaustive]
    pub enum RequestCut {
        /// Evicted for a new connection: it had sent nothing.
        EvictedIdle = ("evicted_idle", "evicted idle", "evicted for a new connection, having sent nothing"),
        /// Evicted for a new connection: its request, or the reading of its
        /// answer, was still incomplete.
        EvictedSlow = ("evicted_slow", "evicted slow", "evicted for a new connection, its request or answer incomplete"),
        /// Refused: every slot was held by a connection accepted in the
        /// same listener event.
        Refused = ("refused", "refused", "refused: every slot held by a connection accepted just now"),
        /// No whole request within the request timeout.
        Timeout = ("timeout", "timeout", "no whole request within the request timeout"),
    }
}

crate::stats::reasons! {
    /// A fault applied (`--fault-listen`, `--toxic`), by its toxic's type:
    /// to a connection that drew it, to a listener for `stop_accepting`,
    /// and `down` to each connection closed as its listener was disabled.
    /// All but `down` are in the order of `ToxicKind::index`.
    #[non_exhaustive]
    pub enum FaultApplied {
        /// Echoes held back by a latency.
        Latency = ("latency", "latency", "latency"),
        /// Reads or writes paced to a rate.
        Bandwidth = ("bandwidth", "bandwidth", "bandwidth"),
        /// Echoes written in slices.
        Slicer = ("slicer", "slicer", "slicer"),
        /// Closed after so many bytes.
        LimitData = ("limit_data", "limit_data", "limit_data"),
        /// No data moves, closed later or never.
        Timeout = ("timeout", "timeout", "timeout"),
        /// Reset after a while.
        ResetPeer = ("reset_peer", "reset_peer", "reset_peer"),
        /// The FIN delayed.
        SlowClose = ("slow_close", "slow_close", "slow_close"),
        /// A listener stopped accepting.
        StopAccepting = ("stop_accepting", "stop_accepting", "stop_accepting"),
        /// Accepted and closed at once.
        AcceptClose = ("accept_close", "accept_close", "accept_close"),
        /// Accepted and reset at once.
        AcceptReset = ("accept_reset", "accept_reset", "accept_reset"),
        /// A datagram not echoed (so `datagrams_in` counts it, and no
        /// counter of the UDP part does).
        UdpLoss = ("udp_loss", "udp_loss", "udp_loss"),
        /// A datagram echoed twice (so `datagrams_out` counts two).
        UdpDuplicate = ("udp_duplicate", "udp_duplicate", "udp_duplicate"),
        /// A datagram echoed late.
        UdpDelay = ("udp_delay", "udp_delay", "udp_delay"),
        /// A datagram held until the next went ahead of it.
        UdpReorder = ("udp_reorder", "udp_reorder", "udp_reorder"),
        /// Closed because its listener was disabled.
        Down = ("down", "down", "down"),
    }
}
