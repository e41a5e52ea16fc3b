"""NATS JetStream: the streams that carry records, dead letters and events between processes."""
