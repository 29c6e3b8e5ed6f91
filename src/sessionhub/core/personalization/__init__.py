"""Personalization: profiles and affinity vectors, segments, recommendations, experiments,
federation across apps. ``capability.Personalization`` is ``Engine.personalization``."""
