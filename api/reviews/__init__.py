"""Review check-ins (step 7 of the cycle): an objective's or a KPI's periodic review, its confidences, its decisions,
and the adjustments it made, with who approved them."""
