"""Video: optical flow and flow stacks (two-stream networks)."""
