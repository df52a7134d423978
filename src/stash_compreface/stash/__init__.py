"""Stash: GraphQL client, the few objects tasks read, and the shapes of the questions tasks ask."""
