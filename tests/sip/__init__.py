"""Tools for SIP adapter tests: a raw SIP/RTP peer, sipp scenarios and runner, Kamailio and worker harness."""
