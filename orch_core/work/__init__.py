"""Work state: sessions, the task tree, cases, checkpoints, resume, worktrees."""
