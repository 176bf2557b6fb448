"""Technician self-tests: explain, check, restore, PASS/FAIL with hints (exit 0/1/2)."""
