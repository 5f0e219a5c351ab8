"""Device (e.g. a Jetson): Real-ESRGAN on background patches and the stitcher that delivers the image.
ros2 launch launch/device.launch.py [params_file:=...]"""
import os

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

CONFIG = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'config', 'graph.yaml')


def generate_launch_description():
    params = [LaunchConfiguration('params_file')]
    return LaunchDescription([
        DeclareLaunchArgument('params_file', default_value=CONFIG, description='Parameters of every node'),
        Node(package='device_sr', executable='device_sr_node', name='device_sr', parameters=params),
        Node(package='t2i_stitcher', executable='stitcher_node', name='stitcher', parameters=params),
    ])
