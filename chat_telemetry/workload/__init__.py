"""The realistic demo and benchmark workload, generated from real public traces."""
