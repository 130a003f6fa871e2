"""Stage 6: compiling programs. Objectives and metrics, optimizer presets, the compile run, and saved programs
(JSON plus a manifest)."""

from ..registry import Registry

# what --objective names: a subclass of objectives.Objective, imported on first use
OBJECTIVES = Registry(
    "objective",
    {
        "distance": "culturalign.optimization.objectives:DistanceObjective",
        "contrastive": "culturalign.optimization.objectives:ContrastiveObjective",
    },
    extensible=True,
)
