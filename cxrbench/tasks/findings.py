"""The four findings of the benchmark (as compared by Schuit et al., arXiv 2508.07128)."""

from __future__ import annotations

from cxrbench.tasks import TASKS
from cxrbench.tasks.task import Presence, Task

P, A = Presence.PRESENT, Presence.ABSENT
NO_FINDINGS = "no findings"
NORMAL_REPORT = ("No acute cardiopulmonary process.", "The lungs are clear. Heart size is normal. No effusion.")

ATELECTASIS = TASKS.register("atelectasis")(
    Task(
        name="atelectasis",
        display_name="Atelectasis",
        bare_prompts={P: "atelectasis", A: NO_FINDINGS},
        report_prompts={
            P: ("Bibasilar atelectasis.", "Plate-like atelectasis at the left lung base."),
            A: ("No atelectasis.",) + NORMAL_REPORT,
        },
    )
)

LUNG_OPACITY = TASKS.register("lung_opacity")(
    Task(
        name="lung_opacity",
        display_name="Lung opacity",
        bare_prompts={P: "lung opacity", A: NO_FINDINGS},
        report_prompts={
            P: ("Patchy airspace opacity in the right lower lobe.", "Multifocal patchy opacities."),
            A: ("The lungs are clear without focal opacity.",) + NORMAL_REPORT,
        },
    )
)

PLEURAL_EFFUSION = TASKS.register("pleural_effusion")(
    Task(
        name="pleural_effusion",
        display_name="Pleural effusion",
        bare_prompts={P: "pleural effusion", A: NO_FINDINGS},
        report_prompts={
            P: ("Small left pleural effusion.", "Moderate bilateral pleural effusions."),
            A: ("No pleural effusion.",) + NORMAL_REPORT,
        },
    )
)

ENLARGED_CARDIAC_SILHOUETTE = TASKS.register("enlarged_cardiac_silhouette")(
    Task(
        name="enlarged_cardiac_silhouette",
        display_name="Enlarged cardiac silhouette",
        # The published study prompted RoentGen with "cardiomegaly" for this finding.
        bare_prompts={P: "cardiomegaly", A: NO_FINDINGS},
        report_prompts={
            P: ("The cardiac silhouette is enlarged.", "Moderate cardiomegaly."),
            A: ("Heart size is normal.",) + NORMAL_REPORT,
        },
    )
)
