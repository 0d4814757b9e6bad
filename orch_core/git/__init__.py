"""The one door to git: every git process and every pygit2 call."""
