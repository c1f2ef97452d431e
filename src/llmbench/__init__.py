"""llmbench: is backend B really faster than backend A for my model, and by how much?"""

__version__ = "0.2.0"
