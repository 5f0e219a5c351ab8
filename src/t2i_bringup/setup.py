from setuptools import find_packages, setup

PACKAGE = 't2i_bringup'

setup(
    name=PACKAGE,
    version='0.1.0',
    packages=find_packages(exclude=['test']),
    data_files=[
        ('share/ament_index/resource_index/packages', ['resource/' + PACKAGE]),
        ('share/' + PACKAGE, ['package.xml']),
    ],
    install_requires=['setuptools'],
    zip_safe=True,
    maintainer='t2i-edge maintainers',
    maintainer_email='maintainers@t2i-edge.dev',
    description='Runner, demo, client CLI and profiling tools that start the graph from the launch YAML files without ros2 launch.',
    license='Apache-2.0',
    entry_points={'console_scripts': [
        't2i_profile = t2i_bringup.profile:main',
        't2i_build_tiny_models = t2i_bringup.tiny_models:main',
        't2i_run = t2i_bringup.runner:main',
    ]},
)
