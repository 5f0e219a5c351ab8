"""Runner, demo, client CLI and profiling tools that start the graph from the launch YAML files without ros2 launch."""
