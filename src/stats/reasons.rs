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
        /// A v2 header whose CRC32C TLV does not match its bytes: corrupted
        /// on the way, or forged.
        BadChecksum = ("bad_checksum", "bad checksum", "the PROXY v2 header's CRC32C does not match"),
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

crate::stats::reasons! {
    /// Why a WebSocket listener's connection was answered with something
    /// other than `101 Switching Protocols` (`--ws-listen`): each with its
    /// label in `/metrics`, its words and its sentence for the log.
    #[non_exhaustive]
    pub enum UpgradeRefusal {
        /// 400: a malformed request, or an upgrade without its key, `Host`
        /// or `Connection: Upgrade`, or not HTTP/1.1.
        BadRequest = ("bad_request", "bad request", "malformed WebSocket upgrade request (400)"),
        /// 404: a plain request for a path other than `/`.
        NotFound = ("not_found", "not found", "a plain request for a path other than / (404)"),
        /// 405: a method other than GET.
        MethodNotAllowed = ("method", "method", "a method other than GET (405)"),
        /// 426: an upgrade to a WebSocket version other than 13.
        Version = ("version", "version", "a WebSocket version other than 13 (426)"),
        /// 431: a request over 8 KiB.
        TooLarge = ("too_large", "too large", "an upgrade request over 8 KiB (431)"),
        /// 408: no whole request within the request timeout.
        Timeout = ("timeout", "timeout", "no whole upgrade request within the request timeout (408)"),
        /// The client closed (or reset) before its request was whole.
        Closed = ("closed", "closed", "the client closed before its upgrade request was whole"),
    }
}

crate::stats::reasons! {
    /// The status code of a close frame the server sent: the client's own
    /// echoed back, or the server's for a protocol error or shutdown.
    #[non_exhaustive]
    pub enum WsClose {
        /// 1000: normal closure.
        Normal = ("1000", "normal", "normal closure (1000)"),
        /// 1001: going away (the server is shutting down, or the client
        /// said so).
        GoingAway = ("1001", "going away", "going away (1001)"),
        /// 1002: a protocol error.
        ProtocolError = ("1002", "protocol error", "protocol error (1002)"),
        /// 1007: a text message or close reason that is not UTF-8.
        InvalidData = ("1007", "invalid utf-8", "invalid UTF-8 (1007)"),
        /// 1009: a message over `--ws-max-message`.
        TooBig = ("1009", "too big", "message too big (1009)"),
        /// Another code, echoed back.
        Other = ("other", "other", "another status code"),
        /// A client's close frame without a status code, echoed empty.
        NoCode = ("none", "no code", "no status code"),
    }
}
