"""Labels over GraphQL: the verdicts that stand, and giving or revoking one."""
