"""Development helpers shared by the tests, the notebooks, `make run` and `make bench`.

Not part of the Lambda package (Chalice packages only `app.py` and `chalicelib/`).
"""
