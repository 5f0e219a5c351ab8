from setuptools import find_packages, setup

PACKAGE = 'latent_partitioner'

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
    description='Edge stage: grids the latent, ranks cells by spatial variance, decodes and routes foreground/background patches.',
    license='Apache-2.0',
    entry_points={'console_scripts': ['partitioner_node = latent_partitioner.partitioner_node:main']},
)
