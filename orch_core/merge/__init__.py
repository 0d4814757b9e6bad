"""The merge queue: requests, conflict prediction, the lander and the gate on main."""
