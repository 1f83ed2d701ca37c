"""Running services: the base class, the registry, the supervisor and the embedded broker."""
