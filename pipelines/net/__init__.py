"""Talking to the network: the polite fetcher, the address guard, bounded decompression, redaction."""
