"""Edge server: controller, generator, partitioner, diffusion SR, and the fallback stitcher that finishes
requests planned while the device is gone.  ros2 launch launch/edge.launch.py [params_file:=...]"""
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
        Node(package='t2i_controller', executable='controller_node', name='controller', parameters=params),
        Node(package='t2i_generator', executable='generator_node', name='t2i_generator', parameters=params),
        Node(package='latent_partitioner', executable='partitioner_node', name='latent_partitioner',
             parameters=params),
        Node(package='edge_sr', executable='edge_sr_node', name='edge_sr', parameters=params),
        Node(package='t2i_stitcher', executable='stitcher_node', name='fallback_stitcher', parameters=params),
    ])
