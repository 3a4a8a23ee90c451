"""The value tables every orders-shaped scenario draws from (A, B, D, E, F, G, H and the floor).

Copied next to each scenario's connector.py by run.py, so the scenarios that are compared with A
build exactly A's rows. Preformatted strings keep the per-row loop to what a real connector does.
"""

CUSTOMERS = [f"customer-{k:05d}" for k in range(1024)]
STAMPS = [f"2024-{1 + k % 12:02d}-{1 + k % 28:02d}T{k % 24:02d}:{k % 60:02d}:{k * 7 % 60:02d}Z" for k in range(4096)]
CITIES = [f"city-{k:02d}" for k in range(64)]
NOTES = [f"note {k}: " + "lorem ipsum dolor sit amet, consectetur"[: 8 + k % 32] for k in range(256)]
