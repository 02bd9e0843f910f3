"""Lenses on Hamming space that embedding explorers lack: the bit-flip probe, the hash-lookup
explorer, the Hamming-cube view, projection trust and backend parity. Logic only (no streamlit);
figure builders live in hashviz.plots.lenses."""
