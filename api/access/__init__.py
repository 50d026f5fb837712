"""Access in one place: casbin says which role may do what (policy), the tree says where (scope)."""
