"""Benchmark harness: corpus, fake model server, stdio daemon stand-in, experiments, report."""
