"""Edge and device on one machine: both launch files with the same parameter file.
ros2 launch launch/single_machine.launch.py [params_file:=...]"""
import os

from launch import LaunchDescription
from launch.actions import IncludeLaunchDescription
from launch.launch_description_sources import PythonLaunchDescriptionSource

HERE = os.path.dirname(os.path.abspath(__file__))


def generate_launch_description():
    return LaunchDescription([
        IncludeLaunchDescription(PythonLaunchDescriptionSource(os.path.join(HERE, name)))
        for name in ('edge.launch.py', 'device.launch.py')
    ])
