"""Reading one photo of one C.Hasil page: pure functions, no database, no network.

`read_page(jpeg, claim, model)` (in `page.py`) runs the whole pipeline: decode and quality gate,
markers and identity, rectification, box crops, the digit classifier, and the form decoder.
"""
