"""Bearer-token authentication and role/ownership checks shared by every service."""
