"""Operations: metrics, probes, rate limits, the request observer and access log."""
