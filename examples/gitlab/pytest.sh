#!/bin/sh
# Stands in for `pytest` with one failing test: prints what pytest prints and fails, so the
# example pipeline fails the same way every time.
cat <<'LOG'
============================= test session starts ==============================
platform linux -- Python 3.12.7, pytest-8.3.3, pluggy-1.5.0
collected 212 items

tests/test_api.py ............................................................ [ 28%]
tests/test_billing.py ..........F............................................. [ 56%]
tests/test_export.py ......................................................... [100%]

=================================== FAILURES ===================================
_____________________________ test_invoice_totals ______________________________

    def test_invoice_totals():
        invoice = make_invoice(lines=[(2, 5)])
>       assert invoice.total == 12
E       assert 10 == 12
E        +  where 10 = Invoice(lines=[(2, 5)]).total

tests/test_billing.py:42: AssertionError
=========================== short test summary info ============================
FAILED tests/test_billing.py::test_invoice_totals - assert 10 == 12
========================= 1 failed, 211 passed in 4.20s =========================
LOG
exit 1
