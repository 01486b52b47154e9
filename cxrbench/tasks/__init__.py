"""Tasks: the four findings, their present/absent conditions, prompts and label maps."""

from cxrbench.registry import Registry

FINDINGS: tuple[str, ...] = ("atelectasis", "lung_opacity", "pleural_effusion", "enlarged_cardiac_silhouette")

TASKS: Registry = Registry("task", "cxrbench.tasks.task:Task", "cxrbench.tasks")
for _name in FINDINGS:
    TASKS.add_lazy(_name, f"cxrbench.tasks.findings:{_name.upper()}")
