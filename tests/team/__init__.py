"""Team rules: dead workers, roles, approvals, case rules, aliases."""
