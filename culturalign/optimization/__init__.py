"""Stage 6: compiling programs. Objectives and metrics, optimizer presets, the compile run, and saved programs
(JSON plus a manifest)."""
