from setuptools import find_packages, setup

PACKAGE = 't2i_stitcher'

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
    description='Device stage: collects upscaled patches, colour-matches and blends them into the final image.',
    license='Apache-2.0',
    entry_points={'console_scripts': ['stitcher_node = t2i_stitcher.stitcher_node:main']},
)
