"""The function's image built from the real Dockerfile and run with podman, where no Docker
engine answers."""
