"""The team: mailbox, event feed, the overview, agents spawned in tmux windows."""
