"""Test support shared by tests/, scripts/ and bench/: policies and facts builders, generators, the service harness. Never imports a test module."""
