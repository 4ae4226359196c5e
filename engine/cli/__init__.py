"""The attendance-policy command line, on top: nothing imports it; commands come by entry point."""
