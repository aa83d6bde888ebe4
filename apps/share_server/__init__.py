"""The Delta Sharing server: departments read their granted shares with their own tools."""
