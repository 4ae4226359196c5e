"""Errors, did-you-mean, the JSON Schemas, timestamps, atomic files. Imports nothing of ours."""
