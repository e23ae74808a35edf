"""The C.Hasil form: layouts (data), the renderer, and the handwriting and phone-photo generator.

Public API (see docs/forms.md):

- ``shared.forms.layout``: ``layout(contest, tps_code, page)``, ``box_rects``,
  ``marker_corners_mm``, ``canonical_size``, ``page_to_px``, ``rect_px``
- ``shared.forms.identity``: ``marker_id``/``decode_marker_id``, ``qr_payload``/``parse_qr_payload``
- ``shared.forms.identify``: ``locate_page``, ``rectify``, ``read_qr``
- ``shared.forms.render``: ``render_blank``, ``write_blank``
- ``shared.forms.mnist``: ``fetch``, ``digit_samples(side)``
- ``shared.forms.handwriting``: ``symbols_for``, ``draw_x``, ``digit_glyph``, ``hand_image``,
  ``symbol_ink``
- ``shared.forms.truth``: ``make_truth``
- ``shared.forms.generate``: ``generate_photo``, ``render_filled``, ``page_symbols``
"""
