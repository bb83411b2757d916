//! Topology configs (the JSON files users launch), generators and loaders.
