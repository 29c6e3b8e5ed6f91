"""Enrichment: what a request tells about the device, the place and the source of a visit."""
