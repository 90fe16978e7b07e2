"""Data with known ground truth to build, test and benchmark the monitoring methods on:
generated here from seeds (and from the virtual plant with injected faults), never
downloaded."""
