from glob import glob

from setuptools import find_packages, setup

PACKAGE = 't2i_eval'

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
    description='SimPy simulation of the end-edge T2I system at scale and validation against measured records.',
    license='Apache-2.0',
    entry_points={'console_scripts': []},
)
