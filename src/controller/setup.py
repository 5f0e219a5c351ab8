from glob import glob

from setuptools import find_packages, setup

PACKAGE = 't2i_controller'

setup(
    name=PACKAGE,
    version='0.1.0',
    packages=find_packages(exclude=['test']),
    data_files=[
        ('share/ament_index/resource_index/packages', ['resource/' + PACKAGE]),
        ('share/' + PACKAGE, ['package.xml']),
        ('share/' + PACKAGE + '/profiles', glob('profiles/*.yaml')),
    ],
    install_requires=['setuptools'],
    zip_safe=True,
    maintainer='t2i-edge maintainers',
    maintainer_email='maintainers@t2i-edge.dev',
    description='Edge stage: per-request choice of SR scale, denoising steps and foreground ratio under latency, capacity and bandwidth.',
    license='Apache-2.0',
    entry_points={'console_scripts': ['controller_node = t2i_controller.controller_node:main']},
)
